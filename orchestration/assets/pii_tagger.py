"""The learned PII name tagger, built by the pipeline where every scrub path finds it.

Trained on the labelled samples' tuning half and the tuning-half (even) rows of real reviews
(:func:`data_quality.pii_tagger_training.training_examples`), exported to int8 ONNX
(:func:`edge_export.name_tagger.export_name_tagger`) into ``<state>/pii_tagger/``, which
:func:`data_quality.pii_engine.default_engine` loads: the scrub asset, the watcher and
``edge-insights scrub`` then add the names it finds to the rules'. The held-out half and the odd
review rows stay unseen, for the scorecard and ``benchmarks/pii_recall.py``.
"""

import hashlib
import shutil
import time
from pathlib import Path

import dagster as dg

from data_quality.pii_engine import rules_engine
from data_quality.pii_eval import load_presidio_split, load_review_texts
from data_quality.pii_tagger import TOKENIZER_FILE, load_word_tokenizer
from data_quality.pii_tagger_names import CONTEXT_WORDS, THRESHOLD
from data_quality.pii_tagger_training import TaggerConfig, base_model_path, train_tagger, training_examples
from edge_export.name_tagger import export_name_tagger
from orchestration.assets.quality import QUALITY_GROUP
from orchestration.resources import CrawlResource, TrainingResource

# The tiny preset (tests) trains one layer for one epoch, no soup: its tagger only has to exist
# and load.
_CONFIGS = {"tiny": TaggerConfig(layers=1, epochs=1, soup=1)}


def _replace_folder(built: Path, target: Path) -> None:
    # Swap whole folders so a scrubber never loads a model beside another build's tokenizer.
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    built.rename(target)
    shutil.rmtree(old, ignore_errors=True)


@dg.asset(group_name=QUALITY_GROUP, kinds={"pytorch", "onnx"},
          description="Learned PII name tagger (all-MiniLM-L6-v2 layers fine-tuned per word, int8 ONNX) that "
                      "adds the names the scrubber's rules miss; trained on the labelled samples' tuning half "
                      "and the tuning-half (even) rows of real reviews.")
def pii_name_tagger(context: dg.AssetExecutionContext, crawl: CrawlResource,
                    training: TrainingResource) -> dg.MaterializeResult:
    data_dir = Path(crawl.data_dir)
    tuning, _ = load_presidio_split(data_dir)
    examples = training_examples(tuning, load_review_texts(data_dir), rules_engine())
    config = _CONFIGS.get(training.preset, TaggerConfig())
    tokenizer_file = base_model_path() / TOKENIZER_FILE
    started = time.perf_counter()
    model = train_tagger(examples, load_word_tokenizer(tokenizer_file), config)
    seconds = time.perf_counter() - started
    target = Path(training.pii_tagger_dir)
    built = target.with_name(target.name + ".new")
    shutil.rmtree(built, ignore_errors=True)
    model_path = export_name_tagger(model, tokenizer_file, built)
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    size_mb = model_path.stat().st_size / 1e6
    _replace_folder(built, target)
    context.log.info("name tagger trained in %.0f s on %d windows: %s", seconds, len(examples), target)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(target / model_path.name)),
        "sha256": digest,
        "size_mb": round(size_mb, 1),
        "training_windows": len(examples),
        "person_words": sum(label == 1 for e in examples for label in e.labels),
        "training_s": round(seconds, 1),
        "layers": config.layers,
        "epochs": config.epochs,
        "soup": config.soup,
        "threshold": THRESHOLD,
        "context_words": CONTEXT_WORDS,
    })
