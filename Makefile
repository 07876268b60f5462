# The book's commands. Each sets itself up on a fresh clone: a virtual environment, the pinned
# requirements and the MNIST files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= book
NB ?=
# The papers' slugs from their registry (papers/__init__.py), in the book's order. The attacks page is a
# method page, not a paper: it has smoke and book profiles only, and no golden.
NOTEBOOKS := $(shell $(PYTHON) -m papers) attacks
ifneq ($(NB),)
ifeq ($(filter $(NB),$(NOTEBOOKS)),)
$(error NB=$(NB) is not a page of the book; the pages are: $(NOTEBOOKS))
endif
endif
SLUGS := $(if $(NB),$(NB),$(NOTEBOOKS))
PAPERS := $(filter-out attacks,$(SLUGS))
# The unit tests alone; with NB, `make test` runs them and that one page's smoke run and golden.
UNIT := tests --ignore=tests/test_notebooks.py --ignore=tests/notebooks
GOLDENS := $(if $(NB),$(if $(filter attacks,$(NB)),,tests/notebooks/$(NB).smoke.ipynb),tests/notebooks)
PYTEST = MPLBACKEND=Agg NB=$(NB) $(PINNED) $(BIN)/python -m pytest -p no:cacheprovider
export PYTHONPATH := $(CURDIR)
# No MPLBACKEND here: a notebook kernel started with MPLBACKEND=Agg keeps its figures out of its outputs.

.PHONY: setup book lint unit test portable execute jobs adopt wave goldens bench clean

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

data/MNIST/raw/.verified: $(BIN)/.installed lib/data.py
	$(BIN)/python -c "from lib.data import download; download()"
	touch $@

setup: $(BIN)/.installed data/MNIST/raw/.verified

book: setup
	$(BIN)/jupyter-book build . -W -n --keep-going

# The tests and goldens run on one thread and on the AVX2 code paths of PyTorch, MKL and oneDNN: a smoke run's
# numbers repeat bit for bit only at a fixed thread count and instruction set (AVX-512 machines round otherwise).
PINNED := OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2 ONEDNN_MAX_CPU_ISA=AVX2

# The code's style: ruff's lint rules and formatter over the whole tree (pyproject.toml), and every page's
# text mirror in step with it (book/text/, jupytext.toml).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/text_pages.py --check

unit: setup
	$(PYTEST) $(UNIT)

# Everything: lint, unit tests, a smoke run of every page, the nbval goldens, the book build. With NB=<slug>:
# lint, unit tests, and that page's smoke run and golden (no book build).
# (tests/conftest.py reads NB to leave the other pages' smoke runs and goldens out.)
test: setup lint
	$(PYTEST) tests --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
	$(if $(NB),,$(BIN)/jupyter-book build . -W -n --keep-going)

# Re-run notebooks in place (make execute PROFILE=smoke|book|paper [NB=slug]), then the scorecard and the leaderboard.
# Each notebook executes into _build/ and replaces its page only when every cell ran; the first failure stops the run.
execute: setup
	@for slug in $(SLUGS); do \
		profile=$(PROFILE); if [ $$slug = attacks ] && [ $$profile = paper ]; then profile=book; fi; \
		echo "== $$slug ($$profile)"; \
		$(BIN)/python tools/execute_notebook.py book/$$slug.ipynb book/$$slug.ipynb -p profile $$profile || exit 1; \
	done
	$(BIN)/python tools/execute_notebook.py book/scorecard.ipynb book/scorecard.ipynb -p profile $(PROFILE)
	$(BIN)/python tools/execute_notebook.py book/leaderboard.ipynb book/leaderboard.ipynb -p profile $(PROFILE)

# Train and evaluate one paper's models ahead of its page, in the pool (make jobs NB=<slug> PROFILE=book
# [WORKERS=n]): hours at book for the costliest papers, resumable; `make execute NB=<slug>` then loads them.
jobs: setup
	$(if $(NB),,$(error make jobs needs NB=<slug>))
	$(BIN)/python tools/run_jobs.py $(NB) --profile $(PROFILE) $(if $(WORKERS),--workers $(WORKERS))

# A rewritten page waiting in drafts/ takes its place once `make jobs` has trained its models (drafts/README.md):
# its text and reported numbers are copied into book/ and data/ and the page executed; once it ran, the draft is
# removed and the page's golden made (a page that fails keeps its draft, and `make wave` tries it again).
adopt: setup
	$(if $(wildcard drafts/$(NB).md),,$(error make adopt needs NB=<slug> with a drafts/<slug>.md))
	cp drafts/$(NB).md book/text/$(NB).md
	cp drafts/$(NB).reported.json data/reported/$(NB).json
	rm -f book/$(NB).ipynb  # a sync with the old page would mix its cell tags into the new text's
	$(BIN)/jupytext --set-kernel python3 --sync book/text/$(NB).md
	$(BIN)/python tools/execute_notebook.py book/$(NB).ipynb book/$(NB).ipynb -p profile $(PROFILE)
	rm drafts/$(NB).md drafts/$(NB).reported.json  # only once the page ran: a failed run keeps its draft
	$(call fresh_golden,$(NB))

# The re-execution wave: every page waiting in drafts/, in the book's order, its jobs and then its adoption, one page
# after another on every core, then the scorecard and the leaderboard. Many hours at `book`: run it in the background
# with a log; run it again after an interruption and it resumes, every finished entry kept, every model at its last
# finished epoch. A page whose adoption fails keeps its draft and does not hold up the next page's jobs.
wave: setup
	@failed=""; for slug in $(PAPERS); do \
		[ -f drafts/$$slug.md ] || continue; \
		echo "== $$slug: jobs, then adoption ($(PROFILE))"; \
		$(MAKE) --no-print-directory jobs NB=$$slug || exit 1; \
		$(MAKE) --no-print-directory adopt NB=$$slug || failed="$$failed $$slug"; \
	done; \
	[ -z "$$failed" ] || { echo "== not adopted (their drafts kept):$$failed"; exit 1; }
	$(BIN)/python tools/execute_notebook.py book/scorecard.ipynb book/scorecard.ipynb -p profile $(PROFILE)
	$(BIN)/python tools/execute_notebook.py book/leaderboard.ipynb book/leaderboard.ipynb -p profile $(PROFILE)

# A copy of the working tree (tracked and untracked files, not the ignored ones) at $(1), its model cache empty and
# MNIST linked in: where `make portable` and the goldens train every smoke model afresh.
define working_tree_copy
	rm -rf $(1) && mkdir -p $(1)/data
	git ls-files --cached --others --exclude-standard | while read -r f; do [ ! -e "$$f" ] || echo "$$f"; done \
		| tar -cf - -T - | tar -xf - -C $(1)
	ln -s $(CURDIR)/data/MNIST $(1)/data/MNIST
endef

# The goldens in another numeric environment, as another x86-64 CPU gives it: two threads, and PyTorch, MKL and
# oneDNN free to use this CPU's widest instructions. They must still pass, within the tolerances of tests/golden.py.
# It runs in a copy of the working tree, so that the model cache starts empty and every model trains again here
# (about fifteen minutes on two idle cores; two threads on busy cores take far longer).
PORTABLE := _build/portable
portable: setup
	$(call working_tree_copy,$(PORTABLE))
	cd $(PORTABLE) && env -u ATEN_CPU_CAPABILITY -u MKL_CBWR -u ONEDNN_MAX_CPU_ISA \
		MPLBACKEND=Agg OMP_NUM_THREADS=2 PYTHONPATH=$(CURDIR)/$(PORTABLE) \
		$(CURDIR)/$(BIN)/python -m pytest -p no:cacheprovider $(GOLDENS) \
		--nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg

# The nbval goldens: every paper notebook executed at the smoke profile, replaced only when it ran through. Run
# `make portable` first: a number it finds beyond the tolerances is a real change, which the new goldens record;
# and after, so that the new goldens are seen to hold in the other environment too.
goldens: setup
	$(foreach slug,$(or $(NB),$(PAPERS)),$(call fresh_golden,$(slug)))

# A page's golden, made as a fresh clone makes it: in a copy of the working tree whose model cache starts empty, so
# that every smoke model trains here, pinned, and none comes from a run in another numeric environment (the cache
# reuses a model whatever thread count or instruction set trained it).
GOLDEN := _build/golden
define fresh_golden
	$(call working_tree_copy,$(GOLDEN))
	cd $(GOLDEN) && $(PINNED) PYTHONPATH=$(CURDIR)/$(GOLDEN) $(CURDIR)/$(BIN)/python tools/execute_notebook.py \
		book/$(1).ipynb tests/notebooks/$(1).smoke.ipynb -p profile smoke
	cp $(GOLDEN)/tests/notebooks/$(1).smoke.ipynb tests/notebooks/$(1).smoke.ipynb

endef

bench: setup
	$(BIN)/python tools/bench_training.py
	$(BIN)/python tools/bench_pool.py
	$(BIN)/python tools/bench_attacks.py

clean:
	rm -rf _build
