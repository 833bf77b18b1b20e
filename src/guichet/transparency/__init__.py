"""Transparency for citizens (EHDS Arts 57-59, 71, 81): the plain-language registry, "how is my data used",
the opt-out and findings-preference forms in the browser, complaints, results and their follow-up, and the
activity report (``guichet report activity``, ``/transparency/report/YYYY``). See docs/transparency.md."""
