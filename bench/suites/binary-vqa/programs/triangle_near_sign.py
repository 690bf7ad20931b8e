def execute_command(image):
    # Question: Is there a triangle next to a sign?
    # "next to" = the gap between the two boxes is only a few pixels
    image_patch = ImagePatch(image)
    triangle_patches = image_patch.find("triangle")
    if len(triangle_patches) == 0:
        return "no"
    sign_patches = image_patch.find("sign")
    for triangle_patch in triangle_patches:
        for sign_patch in sign_patches:
            if distance(triangle_patch, sign_patch) < 8:
                return "yes"
    return "no"
