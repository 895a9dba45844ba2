/* Sealing as a program sets it up: the options (master key file, key store), the master
 * keys, the key store's client pool and the key store. Shared by the ingress (creates keys,
 * seals) and ingestd (opens, erases keys). */
#ifndef DAPI_SEALING_H
#define DAPI_SEALING_H

#include <stdbool.h>

#include "config.h"
#include "keystore.h"

struct dapi_sealing_opts {
	const char *master_key_file;
	const char *uri; /* "" : the program's own database URI (ingestd) or the default */
	const char *db, *collection;
	bool no_seal;
};

/* clang-format off */
/* Table rows. --no-seal has no environment variable: turning sealing off takes an explicit
 * flag. */
#define DAPI_OPT_SEALING(o)                                                                \
	{"master-key-file", 0, "DATAAPI_MASTER_KEY_FILE", DAPI_OPT_STRING,                  \
	 &(o).master_key_file, "", 0, 0,                                                   \
	 "File of master keys, \"<id> <64 hex digits>\" a line; the last one wraps new data " \
	 "keys (required unless --no-seal)"},                                              \
	{"keys-uri", 0, "KEYS_MONGODB_URI", DAPI_OPT_STRING, &(o).uri, "", 0, 0,           \
	 "MongoDB connection string of the data-key store (default: the dialogs' server)"}, \
	{"keys-database", 0, "KEYS_DATABASE", DAPI_OPT_STRING, &(o).db, "dataapi_keys", 0, 0, \
	 "Database of the data-key store (apart from the dialogs: rebuilding the store by "  \
	 "dropping its database must not erase the keys)"},                                \
	{"keys-collection", 0, "KEYS_COLLECTION", DAPI_OPT_STRING, &(o).collection,        \
	 "dialog_keys", 0, 0, "Collection of the data keys"},                              \
	{"no-seal", 0, NULL, DAPI_OPT_BOOL, &(o).no_seal, "false", 0, 0,                   \
	 "Do not seal personal data in Kafka (no crypto-shredding: an erased dialog stays " \
	 "readable in the topic until retention)"}
/* clang-format on */

/* What the options table cannot check: a master key file unless --no-seal. Returns 0, or
 * -1 with errstr (for the program's configure: exit 2). */
int dapi_sealing_check(const struct dapi_sealing_opts *o, char *errstr, size_t errstr_size);

struct dapi_sealing {
	struct dapi_master_keys mk;
	mongoc_client_pool_t *pool;
	struct dapi_keystore *keys;
};

/* Loads the master keys and opens the key store on o->uri, else default_uri (NULL: the
 * environment's MONGODB_URI, else mongodb://127.0.0.1:27017). Returns the
 * sealing, with keys NULL under --no-seal; NULL with errstr (no master key file without
 * --no-seal, a bad file, a bad URI). Call dapi_mongo_init() first. */
struct dapi_sealing *dapi_sealing_open(const struct dapi_sealing_opts *o, const char *default_uri,
                                       const char *appname, char *errstr, size_t errstr_size);

/* Wipes the master keys and closes the key store. NULL is a no-op. */
void dapi_sealing_close(struct dapi_sealing *s);

#endif
