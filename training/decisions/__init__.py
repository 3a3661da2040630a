"""One module per micro-decision: its label rule, views (teacher vs student) and windows."""
