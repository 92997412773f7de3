"""Outputs: what people read, made from the published marts: the HTML report, the Excel workbook
and the run summary."""
