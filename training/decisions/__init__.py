"""One module per micro-decision: its label rule, views (teacher vs student) and examples.

``DECISIONS`` lists them in the order the pipeline builds them.
"""

from training.decisions.negative_review import SPEC as NEGATIVE_REVIEW
from training.decisions.price_spike import SPEC as PRICE_SPIKE
from training.decisions.urgent_inventory import SPEC as URGENT_INVENTORY

DECISIONS = {spec.name: spec for spec in (NEGATIVE_REVIEW, PRICE_SPIKE, URGENT_INVENTORY)}
