"""The working-day calendar (工作日): public holidays and adjusted working days (调休) by year."""
