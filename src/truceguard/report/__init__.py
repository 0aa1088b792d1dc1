"""Reports: planning reports now; period reports join later."""
