"""Actions of the retail pack (domains/retail): orders, deliveries, refunds and returns."""
