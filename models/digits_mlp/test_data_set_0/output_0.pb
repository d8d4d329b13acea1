
BoutputJ(3zbюшb%а║Цy?≥╟©Z╦░аE╖AавпX©Юsаy■л@Д
°ю