"""The producers' channel: resumable uploads of deliveries, their receipts, the deposit they lead to, the
sealed rejection report a producer downloads — and the pages producers use for them."""
