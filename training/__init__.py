"""Training room: decision examples, the central (teacher) model, distilled students, evaluation."""
