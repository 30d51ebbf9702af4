/* Commands whose capability is not built yet.  They answer -h (the
 * dispatcher does that) and otherwise say plainly that they are not
 * available, with what to use meanwhile: no placeholder output. */
#include "cli/cli.h"

int cmd_later(int argc, char **argv, struct ct_cli *cli)
{
	fprintf(stderr,
		"ctrace %s: not available yet (%s); use 'ctrace timeline' or "
		"'ctrace export'\n",
		cli->cmd->name, cli->cmd->later ? cli->cmd->later : "later");
	return CT_EXIT_USAGE;
}
