"""Acme's metric: character accuracy, 100 * (1 - character edit distance / reference characters)."""


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings (insertions, deletions, substitutions cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        diagonal, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ca != cb))
    return row[-1]


class CharAccuracy:
    """Over the corpus, ``100 * max(0, 1 - sum of edit distances / sum of reference lengths)`` in characters;
    each hypothesis is held to the reference it is closest to. 100 when every hypothesis equals a reference."""

    higher_is_better = True

    def __call__(self, hypotheses, references):
        from seqkit.metrics import MetricResult  # imported when scoring: loading the plugin stays cheap

        errors = chars = 0
        for i, hypothesis in enumerate(hypotheses):
            distance, reference = min((edit_distance(hypothesis, stream[i]), stream[i]) for stream in references)
            errors += distance
            chars += len(reference)
        value = 100.0 * max(0.0, 1.0 - errors / chars) if chars else float(errors == 0) * 100.0
        return MetricResult(value, "CharAcc", f"nrefs:{len(references)}|case:mixed|unit:char|version:acme-0.1.0")
