# Quick start: `make repro` runs the whole study, `make test` runs the tests.
VENV := .venv
BIN := $(VENV)/bin
SWEEP ?= default lsgan-3e-3 lsgan-1e-2 ragan-1e-3 ragan-5e-3
STAMP := $(VENV)/.installed

.PHONY: repro test check-repro bench robustness levers sweep clean-venv

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

repro: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro

check-repro: $(STAMP)   # after `make repro`: does this run agree with the committed (published) metrics/?
	PATH="$(CURDIR)/$(BIN):$$PATH" python -m msrgan check-repro

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" python -m pytest -q

bench: $(STAMP)   # prints figures; the upscale benchmark reads the default generator size from params.yaml
	for script in realism data_pipeline training upscale memory streaming hr_noise; do \
		PATH="$(CURDIR)/$(BIN):$$PATH" python benchmarks/$$script.py || exit 1; done

robustness: $(STAMP)   # the default training over seeds, precisions and thread counts (about 90 minutes on 2 cores)
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro train_vgg
	PATH="$(CURDIR)/$(BIN):$$PATH" python benchmarks/robustness.py

levers: $(STAMP)   # the GAN's levers on the val split, by the independent judges (about 4 minutes a run on 2 cores)
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro train_srresnet train_judge
	PATH="$(CURDIR)/$(BIN):$$PATH" python benchmarks/gan_levers.py --figure docs/gan_levers.png

sweep: $(STAMP)   # the perception-distortion trade-off over the adversarial weight (docs/perception_distortion.png)
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro train_srresnet train_judge
	PATH="$(CURDIR)/$(BIN):$$PATH" python benchmarks/gan_levers.py --configs $(SWEEP) --figure docs/perception_distortion.png

clean-venv:
	rm -rf $(VENV)
