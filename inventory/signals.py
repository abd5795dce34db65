"""What inventory tells the apps above it, without importing them (the dependency rule points down).

``allocatable_stock_raised`` is sent after the commit of a ledger posting that raised the allocatable on-hand
of some (item id, warehouse id) pairs: a receipt, a count that found stock, a release from quality hold, a
return restocked. Orders listens and queues the allocation of its backorders. Sent after commit, so a
receiver sees the stock, and never for a posting that rolled back.
"""

from django.dispatch import Signal

# Keyword argument: ``pairs``, a sorted list of (item id, warehouse id).
allocatable_stock_raised = Signal()
