"""Benchmark reports: a self-contained HTML page and a rich terminal leaderboard."""

from eokit.report.html import render_html, write_report
from eokit.report.summary import Summary, summarise
from eokit.report.terminal import leaderboard_table, print_leaderboard

__all__ = ["Summary", "leaderboard_table", "print_leaderboard", "render_html", "summarise", "write_report"]
