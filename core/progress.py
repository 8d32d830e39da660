"""The progress bar of the management commands (tqdm), written to a command's output."""

from tqdm import tqdm


class _Stream:
    """A command's output as tqdm writes to it: as is, with no line ending added."""

    def __init__(self, out):
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text, ending="")

    def flush(self) -> None:
        self.out.flush()


def progress_bar(out, *, unit: str) -> tqdm:
    """Redrawn in place on a terminal; elsewhere (logs, CI) plain ASCII, at most a line every
    10 seconds. Close it, then write a line ending, when done."""
    interactive = out.isatty()
    return tqdm(
        total=0,
        file=_Stream(out),
        unit=unit,
        ascii=not interactive,
        dynamic_ncols=interactive,
        mininterval=0.1 if interactive else 10.0,
    )
