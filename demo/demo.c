#include <shade.h>
int main(void) { shade_init(0); return 0; }
