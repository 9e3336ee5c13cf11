"""Cost and bin packing: KPIs, prices, pools, the consolidation simulation, packer, bound, checker, plots."""
