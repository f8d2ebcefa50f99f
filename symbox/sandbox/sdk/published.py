"""The public names of Sym's hook SDK (`sym-sdk` 0.59 to 0.61), by module.

Read at load to tell a misspelt SDK name from one symbox does not implement yet: the
first is a problem in the hook file; the second imports, and fails only when used.
"""

from __future__ import annotations

PUBLISHED: dict[str, frozenset[str]] = {
    "sym.sdk": frozenset(
        {
            "AccessTarget",
            "ApprovalTemplate",
            "Channel",
            "Environment",
            "Event",
            "EventMeta",
            "FieldOption",
            "Flow",
            "Payload",
            "PermissionLevel",
            "RequestDestination",
            "RequestDestinationFallback",
            "RequestPermission",
            "Run",
            "SRN",
            "SlackChannelID",
            "SlackChannelName",
            "SlackUser",
            "SlackUserGroup",
            "SymIntegrationError",
            "SymResource",
            "SymSDKError",
            "Template",
            "User",
            "UserIdentity",
            "UserRole",
            "aws_lambda",
            "github",
            "google",
            "hook",
            "okta",
            "onelogin",
            "pagerduty",
            "prefetch",
            "reducer",
            "slack",
        }
    ),
    "sym.sdk.annotations": frozenset({"hook", "prefetch", "reducer"}),
    "sym.sdk.errors": frozenset({"SymIntegrationError", "SymSDKError"}),
    "sym.sdk.event": frozenset({"Channel", "Event", "EventMeta", "Payload"}),
    "sym.sdk.exceptions": frozenset(
        {
            "AWSError",
            "AWSIAMError",
            "AWSLambdaError",
            "AWSSSOError",
            "AccessStrategyError",
            "AptibleError",
            "BoundaryError",
            "CouldNotSaveError",
            "ExceptionWithHint",
            "GitHubError",
            "GoogleError",
            "HTTPError",
            "IdentityError",
            "JiraError",
            "KnowBe4Error",
            "MissingArgument",
            "OktaError",
            "OneLoginError",
            "PagerDutyError",
            "SDKError",
            "SlackError",
            "SymException",
            "SymIntegrationError",
        }
    ),
    "sym.sdk.exceptions.access_strategy": frozenset({"AccessStrategyError"}),
    "sym.sdk.exceptions.aptible": frozenset({"AptibleError"}),
    "sym.sdk.exceptions.aws": frozenset(
        {"AWSError", "AWSIAMError", "AWSLambdaError", "AWSSSOError"}
    ),
    "sym.sdk.exceptions.boundary": frozenset({"BoundaryError"}),
    "sym.sdk.exceptions.github": frozenset({"GitHubError"}),
    "sym.sdk.exceptions.google": frozenset({"GoogleError"}),
    "sym.sdk.exceptions.http": frozenset({"HTTPError"}),
    "sym.sdk.exceptions.identity": frozenset(
        {"CouldNotSaveError", "IdentityError", "IdentityNotFound"}
    ),
    "sym.sdk.exceptions.jira": frozenset({"JiraError"}),
    "sym.sdk.exceptions.knowbe4": frozenset({"KnowBe4Error"}),
    "sym.sdk.exceptions.okta": frozenset({"OktaError"}),
    "sym.sdk.exceptions.onelogin": frozenset({"OneLoginError"}),
    "sym.sdk.exceptions.pagerduty": frozenset({"PagerDutyError"}),
    "sym.sdk.exceptions.sdk": frozenset({"MissingArgument", "SDKError"}),
    "sym.sdk.exceptions.slack": frozenset({"SlackError"}),
    "sym.sdk.exceptions.sym_exception": frozenset({"ExceptionWithHint", "SymException"}),
    "sym.sdk.exceptions.sym_integration": frozenset({"SymIntegrationError"}),
    "sym.sdk.field_option": frozenset({"FieldOption"}),
    "sym.sdk.flow": frozenset({"Environment", "Flow", "Run"}),
    "sym.sdk.forms": frozenset(
        {"FieldOption", "FieldType", "PromptField", "SlackUserSelection", "SymPromptForm"}
    ),
    "sym.sdk.integrations": frozenset(
        {
            "aws_iam",
            "aws_lambda",
            "aws_sso",
            "boundary",
            "github",
            "google",
            "knowbe4",
            "okta",
            "onelogin",
            "pagerduty",
            "slack",
            "sym",
        }
    ),
    "sym.sdk.integrations.aws_iam": frozenset({"AWSIAMError", "is_user_in_group"}),
    "sym.sdk.integrations.aws_lambda": frozenset({"AWSLambdaError", "invoke", "invoke_async"}),
    "sym.sdk.integrations.aws_sso": frozenset(
        {"AWSSSOError", "is_user_in_group", "list_accounts", "list_groups", "users_in_group"}
    ),
    "sym.sdk.integrations.boundary": frozenset({"BoundaryError", "get_group", "list_groups"}),
    "sym.sdk.integrations.github": frozenset(
        {"GitHubDefaultRolesT", "GitHubError", "GitHubRoleT", "get_repo_collaborators"}
    ),
    "sym.sdk.integrations.google": frozenset(
        {"GoogleError", "is_user_in_group", "list_groups", "users_in_group"}
    ),
    "sym.sdk.integrations.jira": frozenset(
        {"JiraError", "add_comment_to_issue", "create_issue", "search_issues"}
    ),
    "sym.sdk.integrations.knowbe4": frozenset(
        {"KnowBe4Error", "get_training_enrollments_for_user", "is_user_in_group"}
    ),
    "sym.sdk.integrations.okta": frozenset(
        {"OktaError", "get_user_info", "is_user_in_group", "list_groups", "users_in_group"}
    ),
    "sym.sdk.integrations.onelogin": frozenset(
        {"get_user_info", "is_user_in_role", "list_roles", "users_in_role"}
    ),
    "sym.sdk.integrations.pagerduty": frozenset(
        {
            "PagerDutyError",
            "PagerDutyStatus",
            "PagerDutyUrgency",
            "get_incidents",
            "has_incident",
            "is_on_call",
            "users_for_schedule",
            "users_on_call",
        }
    ),
    "sym.sdk.integrations.slack": frozenset(
        {
            "SlackError",
            "channel",
            "fallback",
            "get_user_info",
            "group",
            "is_user_in_group",
            "list_users",
            "mention",
            "send_message",
            "send_thread_message",
            "user",
            "users_in_channel",
        }
    ),
    "sym.sdk.integrations.store": frozenset({"fetch", "put"}),
    "sym.sdk.integrations.sym": frozenset(
        {"get_or_create_user_by_email", "get_or_create_users_by_emails"}
    ),
    "sym.sdk.models": frozenset(
        {
            "AccessTarget",
            "Channel",
            "Environment",
            "Event",
            "EventMeta",
            "FieldOption",
            "Flow",
            "Payload",
            "RequestDestination",
            "RequestDestinationFallback",
            "Run",
            "SRN",
            "SlackChannelID",
            "SlackChannelName",
            "SlackUser",
            "SlackUserGroup",
            "SymResource",
            "User",
            "UserIdentity",
            "UserRole",
        }
    ),
    "sym.sdk.notifications": frozenset({"Notification"}),
    "sym.sdk.request_destination": frozenset(
        {
            "RequestDestination",
            "RequestDestinationFallback",
            "RequestForwardContext",
            "SlackChannelID",
            "SlackChannelName",
            "SlackRequestDestination",
            "SlackUser",
            "SlackUserGroup",
        }
    ),
    "sym.sdk.request_permission": frozenset({"PermissionLevel", "RequestPermission"}),
    "sym.sdk.resource": frozenset(
        {
            "InvalidSRNError",
            "InvalidSlugError",
            "InvalidVersionError",
            "MissingComponentError",
            "MultipleErrors",
            "SRN",
            "SymBaseResource",
            "SymResource",
            "TrailingSeparatorError",
        }
    ),
    "sym.sdk.secret": frozenset({"Secret", "SecretSource"}),
    "sym.sdk.strategies": frozenset({"AccessStrategy", "Integration"}),
    "sym.sdk.strategies.access_strategy": frozenset({"AccessStrategy"}),
    "sym.sdk.strategies.integration": frozenset({"Integration"}),
    "sym.sdk.strategy": frozenset({"Strategy"}),
    "sym.sdk.target": frozenset({"AccessTarget"}),
    "sym.sdk.templates": frozenset(
        {"ApprovalTemplate", "ApprovalTemplateStep", "Template", "TemplateStep", "get_step_output"}
    ),
    "sym.sdk.templates.approval": frozenset({"ApprovalTemplate", "ApprovalTemplateStep"}),
    "sym.sdk.templates.step": frozenset({"get_step_output"}),
    "sym.sdk.templates.template": frozenset({"Template", "TemplateStep"}),
    "sym.sdk.user": frozenset({"User", "UserIdentity", "UserRole", "user_ids"}),
    "sym.sdk.utils": frozenset({"persist_user_identity"}),
    "sym.sdk.utils.user": frozenset({"persist_user_identity"}),
}
