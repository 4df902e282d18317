"""`harness view`: runs, samples, budget cuts, loops and forking tokens in a browser.

`data` reads a results folder (nothing re-derived: the store, the leaderboard, `harness.comparison`,
`harness.repetition`, `harness entropy`'s outputs); `page` builds the one HTML page (inline style and
script, data as embedded JSON) served or exported; `server` is a small standard-library HTTP server
bound to 127.0.0.1.
"""

# What an export embeds by default (the page says so): this many samples per problem and run (the lowest
# sample indices), each text cut to this many characters. Here, not in `page`, so the CLI reads them lightly.
EXPORT_SAMPLES = 4
EXPORT_CHARS = 20000
