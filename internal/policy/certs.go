package policy

import (
	"strings"

	"github.com/coffer-dev/coffer/internal/model"
)

// Certificate actions: the access-policy certificate permission and the
// RBAC dataAction of each certificate operation. Contacts and issuers have
// their own dataActions (certificatecontacts, certificatecas), which is why
// the Certificates Officer role lists them apart.
var (
	GetCertificate     = Action{"get", "Microsoft.KeyVault/vaults/certificates/read"}
	ListCertificates   = Action{"list", "Microsoft.KeyVault/vaults/certificates/read"}
	CreateCertificate  = Action{"create", "Microsoft.KeyVault/vaults/certificates/create/action"}
	ImportCertificate  = Action{"import", "Microsoft.KeyVault/vaults/certificates/import/action"}
	UpdateCertificate  = Action{"update", "Microsoft.KeyVault/vaults/certificates/update/action"}
	DeleteCertificate  = Action{"delete", "Microsoft.KeyVault/vaults/certificates/delete"}
	RecoverCertificate = Action{"recover", "Microsoft.KeyVault/vaults/certificates/recover/action"}
	PurgeCertificate   = Action{"purge", "Microsoft.KeyVault/vaults/certificates/purge/action"}
	BackupCertificate  = Action{"backup", "Microsoft.KeyVault/vaults/certificates/backup/action"}
	RestoreCertificate = Action{"restore", "Microsoft.KeyVault/vaults/certificates/restore/action"}
	// Reading contacts needs the write dataAction too: Azure has no read one.
	GetContacts         = Action{"managecontacts", "Microsoft.KeyVault/vaults/certificatecontacts/write"}
	ManageContacts      = Action{"managecontacts", "Microsoft.KeyVault/vaults/certificatecontacts/write"}
	DeleteContacts      = Action{"managecontacts", "Microsoft.KeyVault/vaults/certificatecontacts/write"}
	GetIssuer           = Action{"getissuers", "Microsoft.KeyVault/vaults/certificatecas/read"}
	ListIssuers         = Action{"listissuers", "Microsoft.KeyVault/vaults/certificatecas/read"}
	SetIssuer           = Action{"setissuers", "Microsoft.KeyVault/vaults/certificatecas/write"}
	DeleteIssuer        = Action{"deleteissuers", "Microsoft.KeyVault/vaults/certificatecas/delete"}
	certManageIssuers   = "manageissuers"
	certIssuerPermNames = []string{"getissuers", "listissuers", "setissuers", "deleteissuers"}
)

// AllowedCertificateByAccessPolicy is AllowedByAccessPolicy for
// certificate permissions. "manageissuers" grants every issuer permission,
// as in Azure; secret and key permissions grant nothing here.
func AllowedCertificateByAccessPolicy(policies []model.AccessPolicy, c Caller, perm string) bool {
	issuerPerm := contains(certIssuerPermNames, perm)
	for _, p := range policies {
		if !strings.EqualFold(p.TenantID, c.TenantID) {
			continue
		}
		if !strings.EqualFold(p.ObjectID, c.ObjectID) && !contains(c.Groups, p.ObjectID) {
			continue
		}
		if p.ApplicationID != "" && !strings.EqualFold(p.ApplicationID, c.AppID) {
			continue
		}
		for _, got := range p.Permissions.Certificates {
			if strings.EqualFold(got, perm) || strings.EqualFold(got, model.PermAll) ||
				(issuerPerm && strings.EqualFold(got, certManageIssuers)) {
				return true
			}
		}
	}
	return false
}
