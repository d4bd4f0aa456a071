"""Tests of engine/stores: tracker and lock stores, their migrations and their factory."""
