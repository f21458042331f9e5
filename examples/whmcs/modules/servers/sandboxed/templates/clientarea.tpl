{* The service's overview in the client area: sandboxed_ClientArea's vars. *}
<div class="sandboxed-service">
    <h4>{$sandboxed.provider|escape}</h4>
    <p>Status: <strong>{$sandboxed.status|escape}</strong>{if $sandboxed.status_source eq 'provider'} (as the provider reports it){/if}</p>
    {if $sandboxed.usage}
        <table class="table table-condensed">
            <thead><tr><th>Resource</th><th>Used</th><th>Limit</th></tr></thead>
            <tbody>
            {foreach from=$sandboxed.usage item=figure}
                <tr>
                    <td>{$figure.name|escape}</td>
                    <td>{$figure.used|escape} {$figure.unit|escape}</td>
                    <td>{if $figure.unlimited}Unlimited{else}{$figure.limit|escape} {$figure.unit|escape}{/if}</td>
                </tr>
            {/foreach}
            </tbody>
        </table>
        {if $sandboxed.usage_updated}<p class="text-muted">Measured {$sandboxed.usage_updated|escape}</p>{/if}
    {/if}
    {if $sandboxed.error}<p class="text-warning">{$sandboxed.error|escape}</p>{/if}
    {if $sandboxed.sso}
        <form method="post" action="clientarea.php?action=productdetails&amp;id={$sandboxed.serviceid}&amp;dosinglesignon=1" target="_blank">
            <button type="submit" class="btn btn-primary">{$sandboxed.sso_label|escape}</button>
        </form>
    {/if}
</div>
