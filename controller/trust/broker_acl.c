/*
 * kitkeeper's subscription guard for Mosquitto 2.0 (plugin API v5).
 *
 * Mosquitto's acl_file checks publishing and delivery only: every SUBSCRIBE passes. A kit could
 * then join the controllers' shared subscription and be "chosen" for other kits' messages, which
 * its ACL then drops. This plugin, loaded beside the acl_file, decides subscriptions:
 *   - the controller's identity and those acl.local names (plugin_opt_controller, a
 *     space-separated list) may subscribe as the acl_file allows;
 *   - any other identity only to the exact filters of plugin_opt_subscribe ("%u" is its
 *     certificate's CN), never a wildcard, a shared subscription or another kit's topic;
 *   - a revoked kit (one id a line in plugin_opt_revoked_file) to nothing, and it may neither
 *     publish nor receive. On every reload (SIGHUP) the file is read again and the revoked kits
 *     still connected are disconnected; Mosquitto then drops whatever subscriptions their
 *     persistent sessions held, since this plugin refuses them.
 * Everything else it defers to the acl_file. Built by controller/trust/broker.py.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define MAX_LINE 256

static mosquitto_plugin_id_t *plugin_id;
static char *controller_cn; /* space-separated user names */
static char *subscribe_patterns; /* space-separated, "%u" for the user name */
static char *revoked_path;
static char **revoked;
static size_t revoked_count;

static void free_revoked(void)
{
	for(size_t i = 0; i < revoked_count; i++) free(revoked[i]);
	free(revoked);
	revoked = NULL;
	revoked_count = 0;
}

static void load_revoked(void)
{
	char line[MAX_LINE];
	FILE *f;

	free_revoked();
	if(revoked_path == NULL) return;
	f = fopen(revoked_path, "r");
	if(f == NULL) return; /* no file: nobody revoked */
	while(fgets(line, sizeof(line), f)){
		size_t len = strcspn(line, "\r\n");
		char **grown;
		line[len] = '\0';
		if(len == 0 || line[0] == '#') continue;
		grown = realloc(revoked, (revoked_count + 1) * sizeof(char *));
		if(grown == NULL) break;
		revoked = grown;
		revoked[revoked_count] = strdup(line);
		if(revoked[revoked_count] == NULL) break;
		revoked_count++;
	}
	fclose(f);
}

static bool is_revoked(const char *username)
{
	for(size_t i = 0; i < revoked_count; i++){
		if(strcmp(revoked[i], username) == 0) return true;
	}
	return false;
}

/* Whether `name` is one of the space-separated `words`. */
static bool one_of(const char *words, const char *name)
{
	size_t len = strlen(name);
	const char *p = words;

	while(p != NULL && *p){
		while(*p == ' ') p++;
		if(strncmp(p, name, len) == 0 && (p[len] == ' ' || p[len] == '\0')) return true;
		p = strchr(p, ' ');
	}
	return false;
}

/* Whether `topic` is exactly one of the patterns with %u replaced by `username`. */
static bool own_filter(const char *username, const char *topic)
{
	const char *p = subscribe_patterns;
	size_t ulen = strlen(username);

	if(p == NULL) return false;
	while(*p){
		const char *t = topic;
		bool match = true;
		while(*p == ' ') p++;
		if(*p == '\0') break;
		while(*p && *p != ' '){
			if(p[0] == '%' && p[1] == 'u'){
				if(strncmp(t, username, ulen) != 0) match = false;
				else t += ulen;
				p += 2;
			}else{
				if(*t != *p) match = false;
				else t++;
				p++;
			}
			if(!match){
				while(*p && *p != ' ') p++;
			}
		}
		if(match && *t == '\0') return true;
	}
	return false;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	const char *username = mosquitto_client_username(ed->client);

	(void)event;
	(void)userdata;
	if(username == NULL) return MOSQ_ERR_ACL_DENIED;
	if(one_of(controller_cn, username)) return MOSQ_ERR_PLUGIN_DEFER;
	if(is_revoked(username)){
		return ed->access == MOSQ_ACL_UNSUBSCRIBE ? MOSQ_ERR_PLUGIN_DEFER : MOSQ_ERR_ACL_DENIED;
	}
	if(ed->access != MOSQ_ACL_SUBSCRIBE) return MOSQ_ERR_PLUGIN_DEFER;
	if(strpbrk(username, "+#/") == NULL && own_filter(username, ed->topic)){
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "kitkeeper: refused subscription of %s to %s",
			username, ed->topic);
	return MOSQ_ERR_ACL_DENIED;
}

static int on_reload(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	(void)userdata;
	load_revoked();
	for(size_t i = 0; i < revoked_count; i++){
		mosquitto_kick_client_by_username(revoked[i], false);
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	int rc;

	(void)userdata;
	plugin_id = identifier;
	for(int i = 0; i < option_count; i++){
		if(strcmp(options[i].key, "controller") == 0){
			controller_cn = strdup(options[i].value);
		}else if(strcmp(options[i].key, "subscribe") == 0){
			subscribe_patterns = strdup(options[i].value);
		}else if(strcmp(options[i].key, "revoked_file") == 0){
			revoked_path = strdup(options[i].value);
		}
	}
	if(controller_cn == NULL || subscribe_patterns == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR,
				"kitkeeper: plugin_opt_controller and plugin_opt_subscribe are required");
		return MOSQ_ERR_INVAL;
	}
	load_revoked();
	rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
	if(rc != MOSQ_ERR_SUCCESS) return rc;
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_RELOAD, on_reload, NULL, NULL);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_RELOAD, on_reload, NULL);
	free_revoked();
	free(controller_cn);
	free(subscribe_patterns);
	free(revoked_path);
	return MOSQ_ERR_SUCCESS;
}
