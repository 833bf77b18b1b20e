"""Statistics requests (EHDS Art 69 health data requests): anonymised statistics computed by the hub on a
minimal extract, checked by the airlock and the hub-wide differencing ledger, reviewed by one checker."""
