
BoutputJ(a‹<û™¼x¨#½lâˆ½Á
å<#g‡=÷dX=Ì®¶½CÔÞ¼B¶U½