"""Actions of the IT helpdesk pack (domains/it_helpdesk): identity, tickets, assets, outages,
software and new starters."""
