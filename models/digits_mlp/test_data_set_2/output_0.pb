
BoutputJ(“jÀc<öÀîº?GÑÀòJßÀ4ÉCÁ’AÁÆ`AAqëÁL2Á