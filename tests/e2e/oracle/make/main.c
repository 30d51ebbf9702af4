#include <stdio.h>
#include "util.h"

int main(void)
{
	printf("%d\n", util_twice(calc_sum(4)));
	return 0;
}
