"""What every analyzer test script shares: checks that record their
failures and go on, and the exit status they add up to."""

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def finish():
    """The script's exit status: 1 when a check failed, else 0."""
    if failures:
        print(f"{len(failures)} checks failed")
        return 1
    print("ok")
    return 0
