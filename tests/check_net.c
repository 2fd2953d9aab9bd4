#include "testutil.h"
static Suite *s(void){return suite_create("net");}
GORO_TEST_MAIN(s)
