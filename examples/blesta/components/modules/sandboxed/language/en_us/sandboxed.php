<?php
// The module
$lang['Sandboxed.name'] = 'Sandboxed provisioning modules';
$lang['Sandboxed.description'] = 'Every provider module of a provisioning host (provisioning serve), each a sandboxed WebAssembly component.';
$lang['Sandboxed.module_row'] = 'Host module';
$lang['Sandboxed.module_row_plural'] = 'Host modules';
$lang['Sandboxed.module_group'] = 'Host module group';

// Module rows
$lang['Sandboxed.row.server_label'] = 'Label';
$lang['Sandboxed.row.url'] = 'provisioning serve URL';
$lang['Sandboxed.row.token'] = 'provisioning serve token';
$lang['Sandboxed.row.module'] = 'Module (its name in serve\'s manifest)';
$lang['Sandboxed.manage.rows'] = 'Host modules';
$lang['Sandboxed.manage.none'] = 'No host module yet: add one with the URL and token of provisioning serve and a module of its manifest.';
$lang['Sandboxed.manage.options'] = 'Options';
$lang['Sandboxed.manage.edit'] = 'Edit';
$lang['Sandboxed.manage.delete'] = 'Delete';
$lang['Sandboxed.manage.delete_confirm'] = 'Really delete this host module?';
$lang['Sandboxed.add_module_row'] = 'Add Host module';
$lang['Sandboxed.add_row.box_title'] = 'Add a host module';
$lang['Sandboxed.add_row.submit'] = 'Add';
$lang['Sandboxed.edit_row.box_title'] = 'Edit the host module';
$lang['Sandboxed.edit_row.submit'] = 'Save';

// Package and service fields
$lang['Sandboxed.package_fields.package'] = 'Provider package';
$lang['Sandboxed.package_fields.package_text'] = 'Provider package (the module cannot list its packages)';
$lang['Sandboxed.service_fields.domain'] = 'Domain';
$lang['Sandboxed.service_fields.username'] = 'Username';
$lang['Sandboxed.service_fields.password'] = 'Password';
$lang['Sandboxed.service_info.remote_id'] = 'Provider\'s id';
$lang['Sandboxed.service_info.module'] = 'Module';

// Errors
$lang['Sandboxed.!error.server_label.empty'] = 'Please enter a label.';
$lang['Sandboxed.!error.url.format'] = 'The URL of provisioning serve must be http:// or https:// with a host.';
$lang['Sandboxed.!error.token.empty'] = 'Please enter the token provisioning serve was started with.';
$lang['Sandboxed.!error.module.unknown'] = 'provisioning serve has no module of that name, or cannot be reached: %1$s';
$lang['Sandboxed.!error.module_row.missing'] = 'No host module is set for this package.';
$lang['Sandboxed.!error.sandboxed_domain.empty'] = 'Please enter a domain.';
$lang['Sandboxed.!error.sandboxed_domain.format'] = 'The domain must be a host name, such as example.co.tz.';
$lang['Sandboxed.!error.unknown_outcome'] = ' (whether the provider acted is unknown: check it, then resolve journal entry %1$s as done or not done with `provisioning journal ack --found-done` or `--found-not-done` before retrying)';

// The client's tab
$lang['Sandboxed.tab_client_service'] = 'Service';
$lang['Sandboxed.tab_client_service.status'] = 'Status';
$lang['Sandboxed.tab_client_service.status_provider'] = '(as the provider reports it)';
$lang['Sandboxed.tab_client_service.resource'] = 'Resource';
$lang['Sandboxed.tab_client_service.used'] = 'Used';
$lang['Sandboxed.tab_client_service.limit'] = 'Limit';
$lang['Sandboxed.tab_client_service.unlimited'] = 'Unlimited';
$lang['Sandboxed.tab_client_service.measured'] = 'Measured %1$s';
$lang['Sandboxed.tab_client_service.sign_on'] = 'Log in to the control panel';
$lang['Sandboxed.tab_client_service.sign_on_link'] = 'Continue to the control panel (the link works once, for a short while)';
$lang['Sandboxed.tab_client_service.unreadable'] = 'The service details could not be read right now (%1$s).';
