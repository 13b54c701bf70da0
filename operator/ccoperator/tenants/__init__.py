"""Tenant objects -> identity clients: the cache of tenant objects and namespaces, the
credentials each tenant acts with, one identity client per URL and credentials pair, and the
checks that write the tenant objects' status."""
