"""Vulnerability advisories: the OSV API client and cache, record parsing, and what a security target fixes."""
