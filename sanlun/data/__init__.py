"""Data files shipped inside the package (read with `importlib.resources`).

- `maven_crm/`: the public sample CRM data set that `sanlun demo` and
  `sanlun import` load by default (see its `README.md` and `NOTICE.md`).
"""
