"""`sanlun import`: load CSV exports through the public API's bulk endpoints.

Pure parts (no HTTP): `mapping` (the column mapping file), `readers` (CSV with
file and line of every row), `plan` (rows -> the records each API wants, with
rejections and normalisations), `diff` (desired vs stored). The `engine` drives
`client` (httpx, timeouts, Idempotency-Key per batch) and fills the `report`.
"""
