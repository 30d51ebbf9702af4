#include "common/error.h"

#define CT_ERR_MSG(name, msg) [CT_##name - CT__ERR_FIRST] = msg,
static const char *const msgs[] = { CT_ERRNO_MAP(CT_ERR_MSG) };
#undef CT_ERR_MSG
#define CT_ERR_NAME(name, msg) [CT_##name - CT__ERR_FIRST] = "CT_" #name,
static const char *const names[] = { CT_ERRNO_MAP(CT_ERR_NAME) };
#undef CT_ERR_NAME

const char *ct_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err <= CT__ERR_FIRST || err >= CT__ERR_LAST)
		return "unknown error";
	return msgs[err - CT__ERR_FIRST];
}

const char *ct_errname(int err)
{
	if (err == 0)
		return "CT_OK";
	if (err <= CT__ERR_FIRST || err >= CT__ERR_LAST)
		return "CT_EUNKNOWN";
	return names[err - CT__ERR_FIRST];
}
