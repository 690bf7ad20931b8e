def execute_command(image):
    image_patch = ImagePatch(image)
    cup_patches = image_patch.find("cup")
    if len(cup_patches) == 0:
        return image_patch.simple_query("Is the cup empty or full?")
    cup_patch = cup_patches[0]
    return cup_patch.simple_query("Is the cup empty or full?")
