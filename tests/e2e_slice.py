"""The real slice the end-to-end tests run on: rows per review file and the known rows appended to
the Alexa feed (one to scrub, two to quarantine)."""

ROWS_PER_FILE = 120
KNOWN_EMAIL = "jane.doe@example.org"
KNOWN_PHONE = "+44 20 7946 0958"
SCRUB_TEXT = f"Stopped working after a week, write to me at {KNOWN_EMAIL} or call {KNOWN_PHONE}. Awful."
BAD_ROWS = [
    f"1\t31-Jul-18\tCharcoal Fabric \t{SCRUB_TEXT}\t0",
    "7\t31-Jul-18\tCharcoal Fabric \tRated seven out of five, which no star scale has.\t1",
    "2\t31-Jul-18\tCharcoal Fabric \t\t0",
]
