"""Shared helper of the CLI tests: ``gnnkit ARGV`` in-process."""


def run_main(capsys, *argv):
    """``gnnkit ARGV`` in-process (no 3 s torch import per case); returns (exit code, stdout, stderr)."""
    from gnnkit.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    cap = capsys.readouterr()
    return code, cap.out, cap.err
