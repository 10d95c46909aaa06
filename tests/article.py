"""The article's examples ("PyTorch中的Loss Function"), as the suite sees them.

The tensors, the values the article printed and their sections are defined once, with the
fixtures they become, in ``lossref.fixtures.cases.article`` (torch-free, so that
``python -m lossref.fixtures`` can rebuild ``fixtures/<loss>/article*.json`` without torch);
``tests/test_article.py`` replays the article's own calls against them.
"""

from lossref.fixtures.cases.article import (  # noqa: F401  (re-exported for the tests)
    ARTICLE, CLASS_AXIS, LOGITS, ONE_HOT, PRINTED_LOG_SOFTMAX, PRINTED_SMALL_LOG_SOFTMAX, PRINTED_SOFTMAX,
    ROUNDED_LOG_SOFTMAX, SEGMENTATION_LOGITS, SEGMENTATION_TARGETS, SMALL_SEGMENTATION_LOGITS,
    SMALL_SEGMENTATION_TARGETS, TARGETS)
