"""The console: server-rendered pages on the same SQL, RLS and owner modules as the JSON API.

service/console/pages.py lists the blueprints (one per area) that service/app.py registers; the
session module is also read by the OAuth callbacks, to tell whether they came back to the
browser session that began the flow.
"""
