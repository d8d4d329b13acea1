
BoutputJ(Ò_[¾lö:>t=h§ó½->H[¾Çh¾C½v>°cM=@ÖZ>