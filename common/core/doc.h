/* The stored dialog document's field names (docs/architecture.md, "The store"), spelled
 * once: ingestd writes them, the query service filters, sorts and renders by them, and the
 * indexes name them. */
#ifndef DAPI_DOC_H
#define DAPI_DOC_H

#define DAPI_DOC_CUSTOMER_ID     "customerId"
#define DAPI_DOC_MESSAGES        "messages"
#define DAPI_DOC_LANGUAGES       "languages"
#define DAPI_DOC_CONSENT         "consent"
#define DAPI_DOC_CONSENTED_AT    "consentedAt"
#define DAPI_DOC_CREATED_AT      "createdAt"
#define DAPI_DOC_LAST_MESSAGE_AT "lastMessageAt"
#define DAPI_DOC_REVOKED         "revoked"
#define DAPI_DOC_REVOKED_AT      "revokedAt"
#define DAPI_DOC_APPLIED         "appliedThrough" /* {partition, offset} of the last event */
#define DAPI_DOC_PARTITION       "partition"
#define DAPI_DOC_OFFSET          "offset"

/* An entry of messages[]. */
#define DAPI_MSG_EVENT_ID    "eventId"
#define DAPI_MSG_TEXT        "text"
#define DAPI_MSG_LANGUAGE    "language"
#define DAPI_MSG_RECEIVED_AT "receivedAt"

/* A data key's document (collection dialog_keys; _id is the dialog's id). */
#define DAPI_KEY_MASTER     "master"  /* the id of the master key that wrapped it */
#define DAPI_KEY_WRAPPED    "wrapped" /* binary: nonce | wrapped key | tag */
#define DAPI_KEY_CREATED_AT "createdAt"
#define DAPI_KEY_USED_AT    "usedAt" /* last handed to an ingress: the sweep spares it */
/* false when created; true once ingestd applied a granted consent to the dialog it seals
 * (absent on keys made before it existed: those are never swept as unused) */
#define DAPI_KEY_CONSENTED    "consented"
#define DAPI_KEY_CONSENTED_AT "consentedAt"
/* binary: the keyed tag of the customerId of the dialog's first message (dapi_master_tag,
 * "person", under the master key that wrapped the key): the index of a person's dialogs
 * for a privacy request, with no customerId in clear (absent on keys made before it) */
#define DAPI_KEY_PERSON "person"

#endif
