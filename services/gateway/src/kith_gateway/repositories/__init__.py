"""SQL of the gateway: one module per group of tables, functions taking an AsyncSession."""
