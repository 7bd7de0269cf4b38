package vaults

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
)

var vaultNameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$`)

// ValidVaultName: 3-24 characters, letters, digits and hyphens, starting
// with a letter, ending with a letter or digit, no consecutive hyphens.
func ValidVaultName(name string) bool {
	return vaultNameRE.MatchString(name) && !strings.Contains(name, "--")
}

// VaultSpec is the writable part of a vault (ARM VaultProperties).
type VaultSpec struct {
	Location                  string
	Tags                      map[string]string
	TenantID                  string
	SKU                       string
	AccessPolicies            []model.AccessPolicy
	EnableSoftDelete          *bool
	SoftDeleteRetentionInDays *int
	EnablePurgeProtection     *bool
	EnableRbacAuthorization   *bool
	Recover                   bool // createMode "recover"
	NetworkACLs               *model.NetworkACLs
	PublicNetworkAccess       string
}

// validateNetwork normalises and checks the firewall settings.
func validateNetwork(op errs.Op, spec *VaultSpec) error {
	if pna := spec.PublicNetworkAccess; pna != "" {
		switch {
		case strings.EqualFold(pna, "Enabled"):
			spec.PublicNetworkAccess = "Enabled"
		case strings.EqualFold(pna, "Disabled"):
			spec.PublicNetworkAccess = "Disabled"
		default:
			return vaultError(op, errs.Invalid, "BadRequest", "The property 'publicNetworkAccess' must be 'Enabled' or 'Disabled'.")
		}
	}
	n := spec.NetworkACLs
	if n == nil {
		return nil
	}
	switch {
	case n.DefaultAction == "" || strings.EqualFold(n.DefaultAction, "Allow"):
		n.DefaultAction = "Allow"
	case strings.EqualFold(n.DefaultAction, "Deny"):
		n.DefaultAction = "Deny"
	default:
		return vaultError(op, errs.Invalid, "BadRequest", "The property 'networkAcls.defaultAction' must be 'Allow' or 'Deny'.")
	}
	switch {
	case n.Bypass == "" || strings.EqualFold(n.Bypass, "AzureServices"):
		n.Bypass = "AzureServices"
	case strings.EqualFold(n.Bypass, "None"):
		n.Bypass = "None"
	default:
		return vaultError(op, errs.Invalid, "BadRequest", "The property 'networkAcls.bypass' must be 'AzureServices' or 'None'.")
	}
	if len(n.IPRules) > 1000 {
		return vaultError(op, errs.Invalid, "BadRequest", "A vault can have at most 1000 IP rules.")
	}
	for i, r := range n.IPRules {
		p, err := parseIPRule(r)
		if err != nil {
			return vaultError(op, errs.Invalid, "BadRequest", fmt.Sprintf("The IP rule '%s' is not an IPv4 address or CIDR range.", r))
		}
		n.IPRules[i] = p.String()
	}
	return nil
}

// parseIPRule accepts an address or a CIDR range (Key Vault's rules are IPv4).
func parseIPRule(r string) (netip.Prefix, error) {
	if strings.Contains(r, "/") {
		p, err := netip.ParsePrefix(r)
		if err != nil || !p.Addr().Is4() {
			return netip.Prefix{}, fmt.Errorf("bad rule %q", r)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(r)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, fmt.Errorf("bad rule %q", r)
	}
	return netip.PrefixFrom(a, 32), nil
}

// CheckNetwork applies the vault firewall to a data-plane caller at addr
// (the TCP peer; X-Forwarded-For is never trusted). Coffer has no trusted
// Azure services and no private links, so bypass changes nothing.
func (s *Service) CheckNetwork(v *model.Vault, c Caller, addr netip.Addr) error {
	const op errs.Op = "vaults.CheckNetwork"
	// The caller and vault lines are for the denial only: every request
	// passes here, and most are allowed.
	caller := func() string {
		return "appid=" + c.AppID + ";oid=" + c.ObjectID + ";iss=https://sts.windows.net/" + c.TenantID + "/"
	}
	vault := func() string { return v.Name + ";location=" + cmp.Or(v.Location, Location) }
	if v.PublicNetworkAccess == "Disabled" {
		return errs.E(op, errs.Permission, errs.Code("Forbidden"), errs.Inner("ForbiddenByConnection"), errs.Msg(
			"Public network access is disabled and request is not from a trusted service nor via an approved private link.\r\nCaller: "+caller()+"\r\nVault: "+vault()))
	}
	n := v.NetworkACLs
	if n == nil || n.DefaultAction != "Deny" {
		return nil
	}
	addr = addr.Unmap()
	for _, r := range n.IPRules {
		if p, err := parseIPRule(r); err == nil && p.Contains(addr) {
			return nil
		}
	}
	return errs.E(op, errs.Permission, errs.Code("Forbidden"), errs.Inner("ForbiddenByFirewall"), errs.Msg(
		"Client address is not authorized and caller is not a trusted service.\r\nClient address: "+addr.String()+"\r\nCaller: "+caller()+"\r\nVault: "+vault()))
}

func vaultError(op errs.Op, kind errs.Kind, code, msg string) error {
	return errs.E(op, kind, errs.Code(code), errs.Msg(msg))
}

// VaultAlreadyExists is ARM's error for a taken (live or soft-deleted) name.
func VaultAlreadyExists(op errs.Op, name string) error {
	return vaultError(op, errs.Conflict, "VaultAlreadyExists", fmt.Sprintf("The vault name '%s' is already in use. Vault names are globally unique so it is possible that the name is already taken. If you are sure that the vault name was not taken then it is possible that a vault with the same name was recently deleted but not purged after being placed in a recoverable state. If the vault is in a recoverable state then the vault will need to be purged before reusing the name. For more information about VaultAlreadyExists, soft delete and purging a vault follow this link https://go.microsoft.com/fwlink/?linkid=2147740.", name))
}

// The permission names ARM accepts for keys, certificates and storage
// (Microsoft.KeyVault KeyPermissions, CertificatePermissions,
// StoragePermissions); Coffer stores them but serves secrets only.
var (
	keyPermissions = []string{"all", "encrypt", "decrypt", "wrapkey", "unwrapkey", "sign", "verify", "get", "list", "create",
		"update", "import", "delete", "backup", "restore", "recover", "purge", "release", "rotate", "getrotationpolicy", "setrotationpolicy"}
	certificatePermissions = []string{"all", "get", "list", "delete", "create", "import", "update", "managecontacts", "getissuers",
		"listissuers", "setissuers", "deleteissuers", "manageissuers", "recover", "purge", "backup", "restore"}
	storagePermissions = []string{"all", "get", "list", "delete", "set", "update", "regeneratekey", "recover", "purge", "backup",
		"restore", "setsas", "listsas", "getsas", "deletesas"}
)

func checkPermissions(op errs.Op, kind string, perms []string, valid func(string) bool, allowed string) error {
	for _, p := range perms {
		if !valid(p) {
			return vaultError(op, errs.Invalid, "BadRequest", fmt.Sprintf("The %s permission '%s' is not valid. Valid permissions: %s.", kind, p, allowed))
		}
	}
	return nil
}

func oneOf(list []string) func(string) bool {
	return func(p string) bool {
		for _, x := range list {
			if strings.EqualFold(x, strings.TrimSpace(p)) {
				return true
			}
		}
		return false
	}
}

func isGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

func validateAccessPolicies(op errs.Op, aps []model.AccessPolicy) ([]model.AccessPolicy, error) {
	if len(aps) > 1024 {
		return nil, vaultError(op, errs.Invalid, "BadRequest", "A vault can have at most 1024 access policies.")
	}
	out := make([]model.AccessPolicy, 0, len(aps))
	for _, ap := range aps {
		if ap.TenantID == "" || ap.ObjectID == "" {
			return nil, vaultError(op, errs.Invalid, "BadRequest", "An access policy entry requires tenantId and objectId.")
		}
		if !isGUID(ap.TenantID) {
			return nil, vaultError(op, errs.Invalid, "BadRequest", fmt.Sprintf("The access policy tenantId '%s' is not a GUID.", ap.TenantID))
		}
		if ap.ApplicationID != "" && !isGUID(ap.ApplicationID) {
			return nil, vaultError(op, errs.Invalid, "BadRequest", fmt.Sprintf("The access policy applicationId '%s' is not a GUID.", ap.ApplicationID))
		}
		if err := checkPermissions(op, "secret", ap.Permissions.Secrets, policy.ValidSecretPermission,
			"all, get, list, set, delete, backup, restore, recover, purge"); err != nil {
			return nil, err
		}
		if err := checkPermissions(op, "key", ap.Permissions.Keys, oneOf(keyPermissions), strings.Join(keyPermissions, ", ")); err != nil {
			return nil, err
		}
		if err := checkPermissions(op, "certificate", ap.Permissions.Certificates, oneOf(certificatePermissions), strings.Join(certificatePermissions, ", ")); err != nil {
			return nil, err
		}
		if err := checkPermissions(op, "storage", ap.Permissions.Storage, oneOf(storagePermissions), strings.Join(storagePermissions, ", ")); err != nil {
			return nil, err
		}
		ap.Permissions.Secrets = policy.NormalizePermissions(ap.Permissions.Secrets)
		ap.Permissions.Keys = policy.NormalizePermissions(ap.Permissions.Keys)
		ap.Permissions.Certificates = policy.NormalizePermissions(ap.Permissions.Certificates)
		ap.Permissions.Storage = policy.NormalizePermissions(ap.Permissions.Storage)
		out = append(out, ap)
	}
	return out, nil
}

// normalizeLocation is ARM's location key: "East US" and "eastus" are one.
func normalizeLocation(l string) string {
	return strings.ToLower(strings.ReplaceAll(l, " ", ""))
}

// CreateOrUpdateVault creates a vault (or recovers a soft-deleted one with
// spec.Recover) or updates an existing one in the same resource group.
// Immutable rules: soft delete cannot be turned off, the retention cannot
// change, purge protection cannot be turned off.
func (s *Service) CreateOrUpdateVault(ctx context.Context, sub, rg, name string, spec VaultSpec, by string, defaultRBAC bool) (*model.Vault, bool, error) {
	const op errs.Op = "vaults.CreateOrUpdateVault"
	if !ValidVaultName(name) {
		return nil, false, vaultError(op, errs.Invalid, "VaultNameNotValid", fmt.Sprintf("The vault name '%s' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.", name))
	}
	aps, err := validateAccessPolicies(op, spec.AccessPolicies)
	if err != nil {
		return nil, false, err
	}
	if err := validateNetwork(op, &spec); err != nil {
		return nil, false, err
	}
	if spec.SoftDeleteRetentionInDays != nil && (*spec.SoftDeleteRetentionInDays < 7 || *spec.SoftDeleteRetentionInDays > 90) {
		return nil, false, vaultError(op, errs.Invalid, "BadRequest", "The property \"softDeleteRetentionInDays\" has an invalid value. Its value must be between 7 and 90.")
	}
	now := s.Now()
	existing, err := s.Store.GetVault(ctx, name)
	switch {
	case errs.KindOf(err) == errs.NotExist:
		if spec.Recover {
			return nil, false, vaultError(op, errs.NotExist, "SoftDeletedVaultDoesNotExist", fmt.Sprintf("A soft deleted vault with the given name '%s' does not exist. Ensure that the name for the vault that is being attempted to recover is in a recoverable state.", name))
		}
		if spec.TenantID == "" || spec.SKU == "" {
			return nil, false, vaultError(op, errs.Invalid, "BadRequest", "The properties tenantId and sku are required.")
		}
		if spec.Location == "" {
			return nil, false, vaultError(op, errs.Invalid, "LocationRequired", "The location property is required for this definition.")
		}
		v := &model.Vault{
			Name: name, SubscriptionID: sub, ResourceGroup: rg, Location: normalizeLocation(spec.Location), Tags: spec.Tags,
			TenantID: spec.TenantID, SKU: strings.ToLower(spec.SKU), AccessPolicies: aps,
			EnableSoftDelete: true, SoftDeleteRetentionInDays: 90, EnableRbacAuthorization: defaultRBAC,
			Created: now, CreatedBy: by, Updated: now, UpdatedBy: by,
		}
		if spec.EnableSoftDelete != nil {
			v.EnableSoftDelete = *spec.EnableSoftDelete
		}
		if spec.SoftDeleteRetentionInDays != nil {
			v.SoftDeleteRetentionInDays = *spec.SoftDeleteRetentionInDays
		}
		if spec.EnablePurgeProtection != nil {
			if !*spec.EnablePurgeProtection {
				return nil, false, vaultError(op, errs.Invalid, "BadRequest", "The property \"enablePurgeProtection\" cannot be set to false. Enabling the purge protection for a vault is an irreversible action.")
			}
			v.EnablePurgeProtection = true
		}
		if spec.EnableRbacAuthorization != nil {
			v.EnableRbacAuthorization = *spec.EnableRbacAuthorization
		}
		v.NetworkACLs, v.PublicNetworkAccess = spec.NetworkACLs, spec.PublicNetworkAccess
		if err := s.Store.CreateVault(ctx, v); err != nil {
			if errs.KindOf(err) == errs.Exist {
				return nil, false, VaultAlreadyExists(op, name)
			}
			return nil, false, err
		}
		return v, true, nil
	case err != nil:
		return nil, false, err
	}
	sameHome := strings.EqualFold(existing.SubscriptionID, sub) && strings.EqualFold(existing.ResourceGroup, rg)
	if existing.Deleted != nil {
		if !spec.Recover || !sameHome {
			return nil, false, VaultAlreadyExists(op, name)
		}
	} else if !sameHome {
		return nil, false, VaultAlreadyExists(op, name)
	}
	if spec.Location != "" && normalizeLocation(spec.Location) != normalizeLocation(existing.Location) {
		return nil, false, vaultError(op, errs.Conflict, "InvalidResourceLocation", fmt.Sprintf(
			"The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'. Please select a new resource name.",
			existing.Name, existing.Location, existing.ResourceGroup, spec.Location))
	}
	var out model.Vault
	err = s.Store.UpdateVault(ctx, name, func(v *model.Vault) error {
		if spec.Recover {
			// Recovering a live vault is a no-op update, as in Azure.
			v.Deleted = nil
		} else {
			if spec.EnableSoftDelete != nil && !*spec.EnableSoftDelete && v.EnableSoftDelete {
				return vaultError(op, errs.Invalid, "BadRequest", "The property \"enableSoftDelete\" cannot be set to false. Enabling the 'soft delete' functionality is an irreversible action.")
			}
			if spec.SoftDeleteRetentionInDays != nil && *spec.SoftDeleteRetentionInDays != v.SoftDeleteRetentionInDays {
				return vaultError(op, errs.Invalid, "BadRequest", "The property \"softDeleteRetentionInDays\" cannot be changed after the vault is created.")
			}
			if spec.EnablePurgeProtection != nil && !*spec.EnablePurgeProtection && v.EnablePurgeProtection {
				return vaultError(op, errs.Invalid, "BadRequest", "The property \"enablePurgeProtection\" cannot be set to false. Enabling the purge protection for a vault is an irreversible action.")
			}
			if spec.EnableSoftDelete != nil && *spec.EnableSoftDelete {
				v.EnableSoftDelete = true
			}
			if spec.EnablePurgeProtection != nil && *spec.EnablePurgeProtection {
				v.EnablePurgeProtection = true
			}
			if spec.EnableRbacAuthorization != nil {
				v.EnableRbacAuthorization = *spec.EnableRbacAuthorization
			}
			if spec.TenantID != "" {
				v.TenantID = spec.TenantID
			}
			if spec.SKU != "" {
				v.SKU = strings.ToLower(spec.SKU)
			}
			if spec.Tags != nil {
				v.Tags = spec.Tags
			}
			if spec.AccessPolicies != nil {
				v.AccessPolicies = aps
			}
			if spec.NetworkACLs != nil {
				v.NetworkACLs = spec.NetworkACLs
			}
			if spec.PublicNetworkAccess != "" {
				v.PublicNetworkAccess = spec.PublicNetworkAccess
			}
		}
		v.Updated, v.UpdatedBy = now, by
		out = *v
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return &out, false, nil
}

// Vault returns a live vault in the given group, or ARM's ResourceNotFound.
func (s *Service) Vault(ctx context.Context, sub, rg, name string) (*model.Vault, error) {
	const op errs.Op = "vaults.Vault"
	v, err := s.Store.GetVault(ctx, name)
	if errs.KindOf(err) == errs.NotExist || (err == nil && (v.Deleted != nil || !strings.EqualFold(v.SubscriptionID, sub) || !strings.EqualFold(v.ResourceGroup, rg))) {
		return nil, vaultError(op, errs.NotExist, "ResourceNotFound", fmt.Sprintf("The Resource 'Microsoft.KeyVault/vaults/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", name, rg))
	}
	return v, err
}

// ListVaults returns the live vaults of a subscription, optionally of one group.
func (s *Service) ListVaults(ctx context.Context, sub, rg string) ([]model.Vault, error) {
	all, err := s.Store.ListVaults(ctx)
	if err != nil {
		return nil, err
	}
	var out []model.Vault
	for _, v := range all {
		if v.Deleted == nil && strings.EqualFold(v.SubscriptionID, sub) && (rg == "" || strings.EqualFold(v.ResourceGroup, rg)) {
			out = append(out, v)
		}
	}
	return out, nil
}

// ListDeletedVaults returns the soft-deleted vaults of a subscription.
func (s *Service) ListDeletedVaults(ctx context.Context, sub string) ([]model.Vault, error) {
	all, err := s.Store.ListVaults(ctx)
	if err != nil {
		return nil, err
	}
	var out []model.Vault
	for _, v := range all {
		if v.Deleted != nil && strings.EqualFold(v.SubscriptionID, sub) {
			out = append(out, v)
		}
	}
	return out, nil
}

// DeleteVault soft-deletes a vault (keeping its secrets and policies for
// recovery), or removes it for good when soft delete is off. found=false
// when there was nothing to delete.
func (s *Service) DeleteVault(ctx context.Context, sub, rg, name string) (found bool, err error) {
	v, err := s.Vault(ctx, sub, rg, name)
	if errs.KindOf(err) == errs.NotExist {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !v.EnableSoftDelete {
		return true, s.Store.PurgeVault(ctx, name)
	}
	now := s.Now()
	return true, s.Store.UpdateVault(ctx, name, func(cur *model.Vault) error {
		cur.Deleted = &now
		return nil
	})
}

// DeletedVault returns a soft-deleted vault.
func (s *Service) DeletedVault(ctx context.Context, sub, name string) (*model.Vault, error) {
	const op errs.Op = "vaults.DeletedVault"
	v, err := s.Store.GetVault(ctx, name)
	if errs.KindOf(err) == errs.NotExist || (err == nil && (v.Deleted == nil || !strings.EqualFold(v.SubscriptionID, sub))) {
		return nil, vaultError(op, errs.NotExist, "DeletedVaultNotFound", fmt.Sprintf("The deleted vault '%s' was not found.", name))
	}
	return v, err
}

// PurgeDeletedVault removes a soft-deleted vault and its secrets, unless
// purge protection forbids it before the retention has passed.
func (s *Service) PurgeDeletedVault(ctx context.Context, sub, name string) error {
	const op errs.Op = "vaults.PurgeDeletedVault"
	v, err := s.DeletedVault(ctx, sub, name)
	if err != nil {
		return err
	}
	if v.EnablePurgeProtection && s.Now().Before(v.Deleted.Add(time.Duration(v.SoftDeleteRetentionInDays)*24*time.Hour)) {
		return vaultError(op, errs.Conflict, "InvalidOperation", "Operation 'DeletedVaultPurge' is not allowed.")
	}
	// The purge re-checks, in the transaction that removes the vault, that
	// it is still the deleted vault checked above (not recovered meanwhile).
	return s.Store.PurgeVaultIf(ctx, name, func(cur *model.Vault) error {
		if cur.Deleted == nil || !cur.Deleted.Equal(*v.Deleted) {
			return vaultError(op, errs.NotExist, "DeletedVaultNotFound", fmt.Sprintf("The deleted vault '%s' was not found.", name))
		}
		return nil
	})
}

// ScheduledPurgeDate of a soft-deleted vault.
func ScheduledPurgeDate(v *model.Vault) time.Time {
	if v.Deleted == nil {
		return time.Time{}
	}
	return v.Deleted.Add(time.Duration(v.SoftDeleteRetentionInDays) * 24 * time.Hour)
}

// UpdateAccessPolicies applies an accessPolicies/{add|replace|remove}
// operation. Entries are keyed by tenant, object and application id: add
// unions permissions, replace replaces an entry's permissions, remove
// removes the listed permissions and drops entries left with none.
func (s *Service) UpdateAccessPolicies(ctx context.Context, sub, rg, name, kind string, aps []model.AccessPolicy, by string) (*model.Vault, error) {
	const op errs.Op = "vaults.UpdateAccessPolicies"
	kind = strings.ToLower(kind)
	if kind != "add" && kind != "replace" && kind != "remove" {
		return nil, vaultError(op, errs.Invalid, "BadRequest", fmt.Sprintf("The access policy operation kind '%s' is invalid. Valid values: add, replace, remove.", kind))
	}
	aps, err := validateAccessPolicies(op, aps)
	if err != nil {
		return nil, err
	}
	if _, err := s.Vault(ctx, sub, rg, name); err != nil {
		return nil, err
	}
	var out model.Vault
	err = s.Store.UpdateVault(ctx, name, func(v *model.Vault) error {
		for _, ap := range aps {
			i := findPolicy(v.AccessPolicies, ap)
			switch {
			case kind == "add" && i < 0, kind == "replace" && i < 0:
				v.AccessPolicies = append(v.AccessPolicies, ap)
			case kind == "add":
				p := &v.AccessPolicies[i].Permissions
				p.Secrets = policy.NormalizePermissions(append(p.Secrets, ap.Permissions.Secrets...))
				p.Keys = policy.NormalizePermissions(append(p.Keys, ap.Permissions.Keys...))
				p.Certificates = policy.NormalizePermissions(append(p.Certificates, ap.Permissions.Certificates...))
				p.Storage = policy.NormalizePermissions(append(p.Storage, ap.Permissions.Storage...))
			case kind == "replace":
				v.AccessPolicies[i].Permissions = ap.Permissions
			case kind == "remove" && i >= 0:
				p := &v.AccessPolicies[i].Permissions
				all := len(ap.Permissions.Secrets)+len(ap.Permissions.Keys)+len(ap.Permissions.Certificates)+len(ap.Permissions.Storage) == 0
				p.Secrets = without(p.Secrets, ap.Permissions.Secrets)
				p.Keys = without(p.Keys, ap.Permissions.Keys)
				p.Certificates = without(p.Certificates, ap.Permissions.Certificates)
				p.Storage = without(p.Storage, ap.Permissions.Storage)
				if all || len(p.Secrets)+len(p.Keys)+len(p.Certificates)+len(p.Storage) == 0 {
					v.AccessPolicies = append(v.AccessPolicies[:i], v.AccessPolicies[i+1:]...)
				}
			}
		}
		v.Updated, v.UpdatedBy = s.Now(), by
		out = *v
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func findPolicy(list []model.AccessPolicy, ap model.AccessPolicy) int {
	for i, p := range list {
		if strings.EqualFold(p.TenantID, ap.TenantID) && strings.EqualFold(p.ObjectID, ap.ObjectID) && strings.EqualFold(p.ApplicationID, ap.ApplicationID) {
			return i
		}
	}
	return -1
}

func without(have, drop []string) []string {
	var out []string
	for _, h := range have {
		keep := true
		for _, d := range drop {
			if strings.EqualFold(h, d) {
				keep = false
			}
		}
		if keep {
			out = append(out, h)
		}
	}
	return out
}
