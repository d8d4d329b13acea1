
BoutputJ(¶AY¾ÎiÒ=Ìú ¼JŒ§½—>î´-¾:qÆ½UŸ’>P	ñ¼>F>