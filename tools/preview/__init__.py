"""Offline `pulumi preview --policy-pack`: run a stack's program under mocks, enforce the packs."""
