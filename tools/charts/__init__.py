"""Helm charts as the oracle for values: fetched from their repository (index.yaml + archive, or OCI), cached, or
read from a local directory; and the generic check of a release's values against a chart."""
